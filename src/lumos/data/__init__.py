"""Datasets: import any image collection, store it preprocessed, read it back fast.

>>> from lumos.data import import_dataset, Dataset
>>> import_dataset("sample:digits", "digits")            # doctest: +SKIP
>>> ds = Dataset.open("digits"); len(ds), ds.classes[:3]  # doctest: +SKIP
"""

from lumos.data.dataset import Dataset, Sample, list_datasets, remove_dataset
from lumos.data.export import EXPORT_FORMATS, export_dataset
from lumos.data.formats import FORMATS
from lumos.data.importer import import_dataset
from lumos.data.options import ImportOptions
from lumos.data.show import sample_grid

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "Dataset",
    "ImportOptions",
    "Sample",
    "export_dataset",
    "import_dataset",
    "list_datasets",
    "remove_dataset",
    "sample_grid",
]
