"""The REST service's response models (pydantic), one module per resource, so that
``/openapi.json`` describes every output. Each model declares the fields the API documents
(docs/api.md) and keeps any other field the core returns (``extra="allow"``): a model never
drops data, and a real answer always validates against it."""
