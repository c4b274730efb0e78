"""Download what the loader reads: the EPC release from its API, or any http(s) file, resumably.

* ``transfer.py``    one file over HTTP into a ``.part`` file: Range resume, fresh presigned URLs, retries
* ``epc.py``         the EPC bulk-file API: ``/info`` (the current release) and the presigned download URL
* ``destination.py`` a local folder or an object store (s3://...), with the manifest beside the file
* ``download.py``    ``fetch_epc`` and ``fetch_url``: skip if unchanged, transfer, check, put in place
* ``report.py``      progress (bar or JSON lines) and the one-line summary
* ``cli.py``         ``data-processor fetch epc|url``

``from data_processor.fetch.download import fetch_epc``. httpx, and fsspec for object stores, are imported only
when a fetch runs, so the rest of the command line starts without them.
"""

