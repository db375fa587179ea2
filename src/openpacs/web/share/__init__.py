"""The recipient side of share links: pages, viewer, download, read-only DICOMweb."""
