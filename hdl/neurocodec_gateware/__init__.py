"""neurocodec_gateware: Amaranth encoders for the neurocodec formats.

Each core matches its golden model in ``neurocodec`` bit for bit; ``cores.CORES`` lists them and
``python -m neurocodec_gateware.verilog`` writes their Verilog.
"""
