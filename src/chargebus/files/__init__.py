"""The files chargebus hands to stations and takes from them: who may fetch or upload
what (grants), and where the file service keeps them (storage)."""
