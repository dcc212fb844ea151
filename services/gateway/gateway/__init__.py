"""Gateway: speaks the national healthcare-security interface envelope to HIS and pharmacy systems."""
