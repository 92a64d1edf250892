from socle.migrations import run_env
from socle_procedures.models import Base

run_env(Base.metadata)
