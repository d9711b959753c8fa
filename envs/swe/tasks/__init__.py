"""SWE-bench tasks: the instance format (``instance``), test-log parsing (``logparse``) and grading (``grading``).

Bug synthesis from pinned source distributions lives in ``synth`` and writes its tasks in the same format.
"""

from turngym.envs.swe.tasks.grading import Grade, ResolvedStatus, grade, report, run_summary, test_command
from turngym.envs.swe.tasks.instance import SWEInstance, check_patch_paths, dump_instances, load_instances
from turngym.envs.swe.tasks.logparse import TestStatus, parse_log_pytest, parse_log_pytest_v2

__all__ = [
    "Grade", "ResolvedStatus", "SWEInstance", "TestStatus", "check_patch_paths", "dump_instances", "grade",
    "load_instances", "parse_log_pytest", "parse_log_pytest_v2", "report", "run_summary", "test_command",
]
