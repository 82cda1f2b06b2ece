"""An import queued for a worker: the web's import form, and an upload unpacked for it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any, ClassVar

from lumos.data.importer import import_dataset
from lumos.data.options import ImportOptions
from lumos.workspace import Workspace


@dataclass(frozen=True)
class ImportJob:
    """Import ``source`` as dataset ``name`` with ``options`` (:class:`ImportOptions` as
    JSON); ``upload``, an unpacked upload's folder, is removed when the import ends."""

    kind: ClassVar[str] = "import"
    source: str
    name: str
    options: dict[str, Any]
    overwrite: bool = False
    upload: str | None = None

    def run(self, workspace: Workspace, job_id: str) -> None:
        try:
            import_dataset(
                self.source,
                self.name,
                ImportOptions(**self.options),
                workspace=workspace,
                overwrite=self.overwrite,
                job_id=job_id,
            )
        finally:
            if self.upload:  # the dataset holds its images now
                shutil.rmtree(self.upload, ignore_errors=True)
