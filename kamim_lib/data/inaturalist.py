"""iNaturalist through ``torchvision.datasets.INaturalist`` (species-level labels).

Layout (torchvision's; one folder per competition version, each the extracted official archive)::

    <data_root>/2021_train/00000_Animalia_Arthropoda_Chilopoda_Craterostigmomorpha_..._tasmanianus/*.jpg
    <data_root>/2021_train_mini/...   (same 10,000 species, 50 images each)
    <data_root>/2021_valid/...
    <data_root>/2017/<super category>/<species>/*.jpg   (2017-2019: one train+val folder per year)

Split mapping: ``train`` -> ``train_version`` (default ``2021_train``; ``2021_train_mini`` is the 50-per-species
subset), ``val`` -> ``val_version`` (default ``2021_valid``); both options go to every split, so one set of options
describes the pair. The label is
torchvision's "full" category id (the species). Images are decoded with
:func:`~kamim_lib.data.image_io.load_rgb_image` (any mode -> RGB) under the ``on_corrupt`` policy.
"""
from __future__ import annotations

import os

from torchvision import datasets

from kamim_lib.data.corrupt import SkipCorruptImages
from kamim_lib.data.image_io import load_rgb_image
from kamim_lib.data.roots import require_dir, require_root

INATURALIST_LAYOUT = ("<data_root>/2021_train/<NNNNN_kingdom_phylum_class_order_family_genus_species>/*.jpg and "
                      "<data_root>/2021_valid/... (torchvision.datasets.INaturalist layout; versions 2017, 2018, "
                      "2019, 2021_train, 2021_train_mini, 2021_valid)")
# Species per competition version (the "full" category count).
INATURALIST_NUM_CLASSES = {"2017": 5089, "2018": 8142, "2019": 1010, "2021_train": 10000,
                           "2021_train_mini": 10000, "2021_valid": 10000}


def inaturalist_num_classes(version: str = "2021_train") -> int:
    """Number of species of an iNaturalist version (the 2021 sets: 10,000)."""
    if version not in INATURALIST_NUM_CLASSES:
        raise ValueError(f"version={version!r} is not an iNaturalist version; choose one of "
                         f"{', '.join(map(repr, INATURALIST_NUM_CLASSES))}.")
    return INATURALIST_NUM_CLASSES[version]


class _INaturalistRGB(datasets.INaturalist):
    """torchvision's INaturalist index, items decoded by ``load_rgb_image`` with the species id as label.

    ``__getitem__`` is overridden (rather than passing ``loader=``) because torchvision < 0.18 has no ``loader``
    argument here and would hand out images in their file mode.
    """

    def __getitem__(self, index: int):
        category_id, file_name = self.index[index]
        image = load_rgb_image(os.path.join(self.root, self.all_categories[category_id], file_name))
        return (image if self.transform is None else self.transform(image)), category_id

    def file_paths(self) -> list[str]:
        """Every image file, in index order (the data fingerprint hashes their sizes and a sample of bytes)."""
        return [os.path.join(self.root, self.all_categories[category], name) for category, name in self.index]


def build_inaturalist(*, root, split: str, transform, download: bool, on_corrupt: str,
                      train_version: str = "2021_train", val_version: str = "2021_valid") -> SkipCorruptImages:
    """Registry builder; ``train_version`` / ``val_version`` pick the competition folders (module docstring)."""
    version = train_version if split == "train" else val_version
    num_classes = inaturalist_num_classes(version)
    if num_classes != inaturalist_num_classes(train_version):
        raise ValueError(f"val_version={val_version!r} has {num_classes} species but train_version="
                         f"{train_version!r} has {inaturalist_num_classes(train_version)}: pick versions of the same "
                         "competition year.")
    root = require_root("inaturalist", root, layout=INATURALIST_LAYOUT, must_exist=not download)
    if not download:
        # torchvision would create the folder and then report it empty; say which folder is missing instead.
        require_dir("inaturalist", root / version, layout=INATURALIST_LAYOUT, what=f"the version folder {version!r}")
    dataset = _INaturalistRGB(str(root), version=version, target_type="full", transform=transform, download=download)
    dataset.num_classes = num_classes
    return SkipCorruptImages(dataset, on_corrupt=on_corrupt)
