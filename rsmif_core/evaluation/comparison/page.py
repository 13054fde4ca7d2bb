"""``index.html``: every test set's table, plots and figure on one page, with the methods' folders and notes.

The page links its files by relative name, so the report folder can be moved or shared as a whole.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from rsmif_core.evaluation.comparison.tables import ComparisonTable, to_html
from rsmif_core.evaluation.comparison.testsets import TestSet

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; padding-bottom: .4em; font-size: .9em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #ccc; text-align: right; }
th:first-child, td:first-child, th[scope=row] { text-align: left; }
thead th { border-bottom: 2px solid #444; }
img { max-width: 100%; border: 1px solid #eee; }
.notes { color: #8a5a00; }
.files a { margin-right: .8em; }
"""


@dataclass(frozen=True)
class Section:
    """One test set on the page: its table and the names of its files in the report folder."""

    test_set: TestSet
    table: ComparisonTable
    tables: list[str]
    plots: list[str]
    figure: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _links(names: list[str]) -> str:
    return " ".join(f'<a href="{html.escape(n)}">{html.escape(n)}</a>' for n in names)


def _image(names: list[str], caption: str) -> str:
    png = next((n for n in names if n.endswith(".png")), None)
    if png is None:
        return ""
    return (f'<figure><a href="{html.escape(png)}"><img src="{html.escape(png)}" alt="{html.escape(caption)}"></a>'
            f"<figcaption>{html.escape(caption)} ({_links(names)})</figcaption></figure>")


def _section(section: Section) -> str:
    test_set = section.test_set
    parts = [f"<section id=\"{test_set.kind}\">", f"<h2>{html.escape(test_set.title)}</h2>", to_html(section.table),
             f'<p class="files">Table as {_links(section.tables)}</p>']
    stems = {n.rsplit(".", 1)[0] for n in section.plots}
    for stem in sorted(stems):
        kind = "mean ± std per metric" if stem.startswith("bars") else "per-image values per metric"
        parts.append(_image([n for n in section.plots if n.startswith(stem + ".")], kind))
    if section.figure:
        parts.append(_image(section.figure, "visual comparison: true colour crop, zoomed inset"
                            + (" and error maps against the reference" if test_set.kind == "rr" else "")))
    rows = "".join(f"<tr><th scope=\"row\">{html.escape(m.name)}</th><td>{html.escape(m.folder.model)}</td>"
                   f"<td>{html.escape(str(m.folder.path))}</td><td>{html.escape(m.folder.weights or '–')}</td>"
                   f"<td>{len(m.folder.images)}</td></tr>" for m in test_set.methods)
    parts.append("<h3>Methods</h3><table><thead><tr><th>method</th><th>model</th><th>test folder</th><th>weights</th>"
                 f"<th>saved images</th></tr></thead><tbody>{rows}</tbody></table>")
    if section.notes:
        parts.append("<ul class=\"notes\">" + "".join(f"<li>{html.escape(n)}</li>" for n in section.notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render_page(sections: list[Section]) -> str:
    body = "\n".join(_section(s) for s in sections)
    contents = " · ".join(f'<a href="#{s.test_set.kind}">{html.escape(s.test_set.title)}</a>' for s in sections)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>RSMIF report</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>RSMIF report</h1>\n<p>{contents}</p>\n{body}\n"
            "</body>\n</html>\n")
