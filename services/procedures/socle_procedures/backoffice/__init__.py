"""The commune's back-office: server-rendered pages for agents under ``/back-office``."""
