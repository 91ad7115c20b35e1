# Chart for perf/rps.sh: added latency and CPU per request, per path and rate.
set terminal pngcairo size 1100,450 noenhanced
set output png
set datafile separator ","
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set key top left
set yrange [0:*]
set multiplot layout 1,2 title "1 KiB request/response at a fixed rate over 64 keep-alive connections (medians of rounds)"
set title "latency added over direct"
set ylabel "µs"
plot csv using 2:xtic(1) skip 1 title "p50", '' using 3 skip 1 title "p99"
set title "CPU per request, each proxy"
set ylabel "µs (÷1000 = vCPU per 1,000 req/s)"
plot csv using 4:xtic(1) skip 1 title "client", '' using 5 skip 1 title "gateway"
unset multiplot
