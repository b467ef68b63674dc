"""Extraction: plain functions from a page to a `Publication`, testable without a crawl."""

from .page import extract_from_html, extract_from_response, extract_publication, extract_with_report

__all__ = ["extract_from_html", "extract_from_response", "extract_publication", "extract_with_report"]
