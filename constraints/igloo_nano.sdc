# IGLOO nano AGLN250V2-VQ100: timing constraints (SDC) of the headstage top.
# One clock: 42 MHz on the clk pin (the headstage's clock, docs/headstage.md). The radio's SCLK
# and CS go through two-flip-flop synchronisers (SCLK <= clk / 4) and the RHD2132's MISO is
# registered several clocks after the SCLK edge that launched it (docs/headstage.md, SPI
# timing), so the I/O need no input or output delays.
create_clock -name clk -period 23.810 -waveform {0 11.905} [get_ports {clk}]
