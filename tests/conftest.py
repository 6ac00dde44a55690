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
