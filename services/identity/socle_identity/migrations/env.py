from socle.migrations import run_env
from socle_identity.models import Base

run_env(Base.metadata)
