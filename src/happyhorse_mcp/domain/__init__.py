"""What the server knows without any I/O: operations, prices, limits, the job record and every error."""
