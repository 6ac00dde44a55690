"""Test-wide guards."""
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _keep_pil_image_open():
    """The optional ``ultralytics`` package replaces ``PIL.Image.open`` when first imported (HEIC
    support); put PIL's own back after each test so that image decoding, and the errors tests
    expect from it, do not depend on which tests ran before."""
    image_open = Image.open
    yield
    Image.open = image_open


#: Test modules that load OpenVINO, NNCF and SAHI into the pytest process. Run in the middle of
#: the suite, they were followed by a segmentation fault of the pytest process itself (no Python
#: traceback) while a later test waited for a subprocess; alone, or with either half of the suite
#: before them, they pass. Until the cause is found they run last.
RUN_LAST = ("test_openvino.py", "test_int8.py", "test_sahi.py", "test_benchmark.py")


def pytest_collection_modifyitems(session, config, items):
    last = [item for item in items if item.path.name in RUN_LAST]
    if last:
        items[:] = [item for item in items if item.path.name not in RUN_LAST] + last
