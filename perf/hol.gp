# Chart for perf/hol.sh: p99 ping-pong latency idle and beside a bulk tunnel, per path.
set terminal pngcairo size 1000,500
set output png
set datafile separator ","
set datafile missing "-"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "sockperf p99 (us, half round trip)"
set logscale y
set xtics rotate by -30
set key top left
set title "Head-of-line blocking: a 64 B ping-pong tunnel beside an iperf3 tunnel on one connection"
plot csv using 6:xtic(stringcolumn(1) eq "direct" ? sprintf("direct r %s", stringcolumn(18)) : \
                      sprintf("f %s l %s w %s s %s r %s", stringcolumn(2), stringcolumn(3), stringcolumn(4), stringcolumn(16), stringcolumn(18))) \
       skip 1 title "idle p99", \
     ''  using 9 skip 1 title "beside bulk p99", \
     ''  using 14 skip 1 title "own connection, beside bulk p99"
