"""Read OpenSLO YAML files into documents for `app.openslo.convert`.

File and YAML errors become problems naming the file, as config errors do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import yaml

from app.openslo.convert import ImportProblem
from app.openslo.sli import OpensloDocument

if TYPE_CHECKING:
    from pathlib import Path


def read_openslo_files(paths: list[Path]) -> tuple[list[OpensloDocument], list[ImportProblem]]:
    """Return every YAML document of the files, and the files that could not be read."""
    documents: list[OpensloDocument] = []
    problems: list[ImportProblem] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            bodies = list(yaml.safe_load_all(text))
        except OSError as exc:
            problems.append(ImportProblem(str(path), "file", f"cannot read: {exc.strerror}"))
            continue
        except UnicodeDecodeError:
            problems.append(ImportProblem(str(path), "file", "not UTF-8 text"))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            reason = getattr(exc, "problem", None) or "cannot be parsed"
            problems.append(ImportProblem(str(path), "file", f"not valid YAML{where}: {reason}"))
            continue
        numbered = [body for body in bodies if body is not None]
        for index, body in enumerate(numbered, start=1):
            origin = str(path) if len(numbered) == 1 else f"{path}, document {index}"
            documents.append(OpensloDocument(origin, body))
    return documents, problems
