# Out-of-context timing constraint for any accgen top module (Vivado).
# accgen tops have one clock port, `clk`, and an optional active-high synchronous `rst`.
# 300 MHz target; change the period for your board and speed grade.
create_clock -period 3.333 -name clk [get_ports clk]
# Inputs and outputs of a block are registered or driven by registers inside the
# enclosing design; give them half a cycle so the block is timed on its own.
set_input_delay  -clock clk 1.6 [get_ports -filter {DIRECTION == IN && NAME != clk}]
set_output_delay -clock clk 1.6 [get_ports -filter {DIRECTION == OUT}]
