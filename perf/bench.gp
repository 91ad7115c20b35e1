# gnuplot -e "csv='chart.csv'; png='bench.png'" perf/bench.gp
# chart.csv: a header "mode,<path>,<path>...", then one row of Gbit/s per mode.
set terminal png size 900,500 noenhanced
set output png
set datafile separator ","
set key autotitle columnhead top right
set title "iperf3 over 127.0.0.1: receiver Gbit/s (mean of rounds)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "Gbit/s"
set yrange [0:*]
set grid ytics
columns = system("head -1 '".csv."' | tr ',' ' ' | wc -w")
plot for [i=2:columns] csv using i:xtic(1)
