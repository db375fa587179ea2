"""The DICOM network face (PS3.7/PS3.4 over PS3.8): pynetdicom event handlers, as thin as
``web/``, on the same services. ``node.py`` runs the application entity, ``gate.py``
decides who may associate, and one module per service turns its requests into calls of
the services and their results into DIMSE responses."""
