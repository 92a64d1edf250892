from socle.migrations import run_env
from socle_notify.models import Base

run_env(Base.metadata)
