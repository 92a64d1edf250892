from socle.migrations import run_env
from socle_storage.models import Base

run_env(Base.metadata)
