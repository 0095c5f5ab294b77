"""Work 365 on top of the OData client: schema discovery and the operations the app needs."""
