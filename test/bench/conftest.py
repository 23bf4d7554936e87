"""The integration fixtures (a real vigil on OS-picked ports), plus the vigil-bench binary."""
import importlib.util
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))  # pki, clients

_spec = importlib.util.spec_from_file_location(
    "integration_conftest", os.path.join(os.path.dirname(__file__), "..", "integration", "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)

start_vigil = _integration.start_vigil
vigil_binary = _integration.vigil_binary


def pytest_addoption(parser):
    _integration.pytest_addoption(parser)
    parser.addoption("--vigil-bench", required=True, help="path to the vigil-bench binary")
