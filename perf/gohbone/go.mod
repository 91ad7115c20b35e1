module hbone/perf/gohbone

go 1.19
