"""Pieces shared by the testbenches: stream driver/monitor, bit-exact comparison, cocotb runner."""
