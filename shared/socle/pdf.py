"""PDF rendering shared by the services: an SVG page drawn by the service, made into a PDF
with CairoSVG (the cairo system library must be installed)."""

from __future__ import annotations

from socle.problems import Unavailable


def svg_to_pdf(svg: str) -> bytes:
    """The SVG document as a PDF; ``Unavailable`` (503) when cairo is missing."""
    try:
        import cairosvg
    except OSError as exc:  # the cairo system library is missing
        raise Unavailable(
            "PDF rendering is not available on this installation (cairo is missing).",
            code="pdf-unavailable",
        ) from exc
    pdf: bytes = cairosvg.svg2pdf(bytestring=svg.encode())
    return pdf
