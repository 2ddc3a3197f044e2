"""The contract between planner and executor: the plan, the report and the plan file.

This package imports nothing else of essh's. Public names are re-exported here.
"""

from .codec import (
    HEADER_SIZE,
    MAGIC,
    SUPPORTED_VERSIONS,
    check_plan,
    decode_plan,
    encode_plan,
    payload_digest,
    read_plan,
    write_plan,
)
from .command import env_prelude, step_argv, step_command, step_env, step_script
from .errors import (
    NotAPlanFile,
    PlanFileDamaged,
    PlanFileError,
    PlanFileInvalid,
    UnsupportedPlanVersion,
)
from .plan import (
    FORMAT_VERSION,
    ConfigFile,
    FileBlob,
    Host,
    Location,
    Plan,
    PlanMeta,
    SecretRef,
    Step,
    Task,
)
from .report import (
    REPORT_FORMAT_VERSION,
    STEP_STATUSES,
    TAIL_BYTES,
    Attempt,
    Report,
    StepResult,
    StepStatus,
    Totals,
    decode_report_json,
    encode_report_json,
)

__all__ = [name for name in dir() if not name.startswith("_")]
