"""The base layer: the deployment home, errors, database and Dask connections, progress, datasets
(imports nothing of faceaudit above it)."""
