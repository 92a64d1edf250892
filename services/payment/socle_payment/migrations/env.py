from socle.migrations import run_env
from socle_payment.models import Base

run_env(Base.metadata)
