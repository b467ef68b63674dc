import csv
import io
import json

from scrapy.utils.misc import load_object

from carnegie_crawler import settings
from carnegie_crawler.items import Publication
from tests.helpers import valid_record


def test_csv_feed_writes_nested_fields_as_json_a_csv_reader_can_parse_back():
    record = valid_record() | {"authors": [{"name": "Thomas Graham, Jr.", "url": None, "role": "Fellow"}]}
    buffer = io.BytesIO()
    exporter = load_object(settings.FEED_EXPORTERS["csv"])(buffer)
    exporter.start_exporting()
    exporter.export_item(Publication(**record))
    exporter.finish_exporting()
    [row] = csv.DictReader(io.StringIO(buffer.getvalue().decode("utf-8")))
    assert json.loads(row["authors"]) == record["authors"], "not a Python repr, not split on the comma"
    assert json.loads(row["related"]) == record["related"]
    assert json.loads(row["centers"]) == record["centers"]
    assert row["title"] == record["title"]
    assert row["subtitle"] == "", "None is an empty cell"
