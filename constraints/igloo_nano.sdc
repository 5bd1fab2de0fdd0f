# IGLOO nano AGLN250V2-VQ100: timing constraints (SDC) of the headstage top.
# One clock: 42 MHz on the clk pin (the headstage's clock, docs/headstage.md). The radio's SCLK
# and CS go through two-flip-flop synchronisers (SCLK <= clk / 4). The RHD2132's MISO is sampled
# at the end of each SCLK high level, so the chip's clock-to-output delay plus the board's round
# trip must stay below one clock period (docs/headstage.md, "Word timing"); that board-level
# budget is not written here as an input delay.
create_clock -name clk -period 23.810 -waveform {0 11.905} [get_ports {clk}]
