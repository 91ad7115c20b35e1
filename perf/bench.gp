# gnuplot -e "csv='results.csv'; png='bench.png'" perf/bench.gp
set terminal png size 900,500 noenhanced
set output png
set datafile separator ","
set title "iperf3 over 127.0.0.1: receiver Gbit/s (mean of rounds)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "Gbit/s"
set yrange [0:*]
set key top right
set grid ytics
# results.csv rows are sorted by mode then path: direct, socat, hbone per mode.
plot csv every 3::1 using 3:xtic(2) title "direct", \
     csv every 3::2 using 3 title "socat -b 262144", \
     csv every 3::3 using 3 title "hbone mTLS HTTP/2"
