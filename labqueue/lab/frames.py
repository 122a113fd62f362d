"""Tables whose headings a student reads in the lab's language while code keeps using the English ones.

A notebook cell (the same code in English and in French) may read a table the lab returns by its
English labels, `table.loc["total wait"]` or `crash_table["lost"]`. `labelled(df, columns=..., index=...)`
returns `df` itself in English; in another language, the same data in a DataFrame subclass that keeps
the English labels for code and shows the translated ones (`repr`, `print`, Jupyter's HTML), so only the
display changes. A frame derived from it (a selection, `.T`, arithmetic) is a plain DataFrame again, with
the English labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .i18n import N_, language, translate

# pandas' own row names that describe() gives, shown in the lab's language by translated().
PANDAS_LABELS = (N_("count"), N_("mean"), N_("std"), N_("min"), N_("max"))

__all__ = ["labelled", "shown", "translated"]

_SUBCLASS: Any = None


def _subclass() -> Any:
    global _SUBCLASS
    if _SUBCLASS is None:
        import pandas as pd

        class LabelledFrame(pd.DataFrame):
            """A DataFrame shown with translated row and column labels (`shown_labels`)."""

            _metadata = ["shown_labels"]

            @property
            def _constructor(self) -> Any:
                return pd.DataFrame  # derived frames are plain DataFrames with the English labels

            def shown(self) -> Any:
                labels = getattr(self, "shown_labels", None) or {}
                plain = pd.DataFrame(self, copy=True)
                out = plain.rename(index=dict(labels.get("index") or {}), columns=dict(labels.get("columns") or {}))
                names = labels.get("names") or {}
                if out.index.name in names:
                    out.index.name = names[out.index.name]
                if out.columns.name in names:
                    out.columns.name = names[out.columns.name]
                return out

            def __repr__(self) -> str:
                return repr(self.shown())

            def _repr_html_(self) -> Any:
                return self.shown()._repr_html_()

            def to_string(self, *args: Any, **kwargs: Any) -> Any:
                return self.shown().to_string(*args, **kwargs)

            def to_html(self, *args: Any, **kwargs: Any) -> Any:
                return self.shown().to_html(*args, **kwargs)

        _SUBCLASS = LabelledFrame
    return _SUBCLASS


def labelled(df: Any, *, columns: Mapping[str, str] | None = None, index: Mapping[str, str] | None = None,
             names: Mapping[str, str] | None = None) -> Any:
    """`df`, shown with `columns`/`index`/`names` (English label -> shown label) when the lab speaks
    another language than English; `df` itself in English."""
    if language() == "en":
        return df
    cls = _subclass()
    out = cls(df)
    out.shown_labels = {"columns": dict(columns or {}), "index": dict(index or {}), "names": dict(names or {})}
    return out


def shown(df: Any) -> Any:
    """The frame as the student sees it: translated labels for a `labelled` frame, else `df` itself."""
    return df.shown() if hasattr(df, "shown_labels") and hasattr(df, "shown") else df


def translated(df: Any) -> Any:
    """`df` shown with every row and column label the catalogue knows in the lab's language (labels
    marked with `N_()` where the lab builds them, and pandas' describe() rows); `df` itself in English.
    For a table a notebook cell builds and then reads by its English labels (same code in both languages)."""
    if language() == "en":
        return df

    def mapping(labels: Any) -> dict[str, str]:
        return {label: translate(label) for label in labels if isinstance(label, str) and translate(label) != label}

    return labelled(df, columns=mapping(df.columns), index=mapping(df.index))
