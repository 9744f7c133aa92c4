"""Local files: header probes and the allowed folders that uploads and downloads must stay inside."""
