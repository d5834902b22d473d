"""Your own code: project-specific transforms, checks and glue that the template does not know about.

This package belongs to you. `copier update` creates this file when it is missing and never changes
it afterwards (it is listed in the template's `_skip_if_exists`), so nothing here ever conflicts
with a template update. Everything else under the package is the template's and is merged on update;
keep your changes there small, or move them here and import them.

The ETL calls `transform_rows` (below) on every interval's validated rows, in its transform step,
before it keeps the contract's columns for the feature store: derive or correct columns here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def transform_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The interval's validated rows, as the ETL's transform step receives them; return the rows to
    store. The contract's columns (contract.yaml) must still be there; extra columns are dropped."""
    return frame
