"""EPC-like demo and test data: a stand-in for the real dump, kept out of the engine (the image does not ship it).

Why this exists: the tests, the ``make run`` demo and the benchmark all need realistic data, and the real EPC
domestic dump (36 GB, personal addresses, its own licence) cannot be shipped in the repository. These modules
write files that look like it to a loader (see ``shared/EPC_SCHEMA.md``), in both of its layouts:
:mod:`samples.epc_legacy` (a folder per local authority) and :mod:`samples.epc_current` (per-year files, zipped).

* UTF-8 without BOM, ``\\n`` line endings, csv QUOTE_MINIMAL quoting (descriptions with commas are quoted);
* value shapes a type inferrer must cope with: integer-like columns are strictly integers or blank, decimal
  columns always carry a decimal point, dates are ISO, LMK_KEY is a 32-digit string that overflows int64,
  UPRN is 12 digits or blank; plus the sentinels (``NO DATA!``, ``NODATA!``, ``INVALID!``), the literal
  ``None`` and ``N/A`` as data, ``£`` and ``²``, Welsh text with a lost apostrophe (``wedi?i``), FLOOR_LEVEL
  mixing ``Ground``/``01``/``1.0``/``mid floor``.

Speed: values are drawn column by column with numpy from pools of already-quoted strings (:mod:`samples.draw`);
about 200 MB takes a few seconds. Deterministic: the same arguments write the same bytes.

    python -m samples DEST --mb 200 --seed 1
    python -m samples DEST --layout current --zip --mb 200
"""
