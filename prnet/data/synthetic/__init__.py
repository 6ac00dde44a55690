"""Built-in synthetic aerial dataset: many tiny objects on textured top-down scenes, no download.

Why: ``make demo`` must train and evaluate PRNet on a fresh machine without fetching data. The
scenes are hard in the ways aerial data is hard (objects of 4-32 px, 40 % or more under 12 px,
shadows, occlusion, clutter that looks like objects, ignore regions) yet learnable: the classes
differ by shape and colour pattern, never by single-pixel details, and labels are exact.

Scene: Voronoi field parcels with ploughing stripes and hedgerows, rivers or ponds, roads with
sidewalks and lane marks, parking lots with stripes, buildings with gable roofs, shadows cast
along one sun direction, ground clutter (bushes, rocks, stains, paint, containers, pools, rooftop
units), trees drawn over the objects, then cloud shadow, illumination ramp, colour cast, blur
and sensor noise. Vehicles on roads and lots follow the road / parking direction.

Modules, each doing one job:

* ``palettes``: colours and ground materials
* ``drawing``: shape primitives and their (4x supersampled) rasterisation
* ``sprites``: the seven classes (json ids 1..7) and the unlabelled look-alikes
* ``scene``: the canvases of one image, placing an object, annotations from the instance map
* ``terrain``: the ground (fields, water, lots, roads, buildings)
* ``layout``: ignore regions, labelled objects in groups, decoys, trees
* ``generate``: whole scenes, and a split written to disk once (layout and annotation contract)
* ``register``: lazy registration in Detectron2's catalogs
* ``stats``: counts per class, size and image of a COCO json
"""

from .generate import generate_synthetic_aerial
from .register import DEFAULT_SPLITS, SYNTHETIC_PROTOCOL, default_root, register_synthetic_aerial
from .sprites import SYNTHETIC_CLASSES
from .stats import summarize

__all__ = [
    "DEFAULT_SPLITS",
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_PROTOCOL",
    "default_root",
    "generate_synthetic_aerial",
    "register_synthetic_aerial",
    "summarize",
]
