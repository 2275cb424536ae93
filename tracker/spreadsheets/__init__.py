"""Reading spreadsheets safely (``reader``: type by content, zip and XML limits, calamine or openpyxl, CSV) and
turning cells into values (``values``: amounts in pence, UK dates, whole numbers, yes/no, text). Imports and
provider monitoring workbooks both use them."""
