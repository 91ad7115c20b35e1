// gohbone: an HBONE client and gateway built only from Go's standard library (crypto/tls,
// net/http's bundled HTTP/2), the comparison pair for perf/bench.sh's `go` path.
//
//	gohbone gateway LISTEN CERT KEY CA
//	gohbone client LISTEN GATEWAY TARGET CERT KEY CA
//
// The client opens one HTTP/2 CONNECT stream per accepted connection, pooled by
// net/http's Transport; the gateway dials the CONNECT authority, answers 200 and relays.
// Half-close is carried both ways (FIN <-> END_STREAM).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
)

// Large copies, as hbone's read_size: Go's 32 KiB default costs it more per byte.
const copyBuffer = 256 << 10

var buffers = sync.Pool{New: func() any { return make([]byte, copyBuffer) }}

func copyAll(dst io.Writer, src io.Reader) {
	buf := buffers.Get().([]byte)
	defer buffers.Put(buf)
	io.CopyBuffer(dst, src, buf)
}

func tlsConfig(cert, key, ca string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		log.Fatal(err)
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
}

// flushWriter sends each write as it comes (a response body is buffered otherwise).
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.w.(http.Flusher).Flush()
	return n, err
}

func gateway(listen string, config *tls.Config) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		upstream, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer upstream.Close()
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		done := make(chan struct{})
		go func() {
			copyAll(upstream, r.Body)
			upstream.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		copyAll(flushWriter{w}, upstream)
		<-done
	})
	server := &http.Server{Addr: listen, Handler: handler, TLSConfig: config}
	log.Fatal(server.ListenAndServeTLS("", ""))
}

func client(listen, gatewayAddress, target string, config *tls.Config) {
	config.ServerName = "localhost"
	transport := &http.Transport{TLSClientConfig: config, ForceAttemptHTTP2: true}
	listener, err := net.Listen("tcp", listen)
	if err != nil {
		log.Fatal(err)
	}
	for {
		local, err := listener.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func(local net.Conn) {
			defer local.Close()
			body, feed := io.Pipe()
			request, _ := http.NewRequest(http.MethodConnect, "https://"+gatewayAddress, body)
			request.Host = target
			uploaded := make(chan struct{})
			go func() {
				copyAll(feed, local)
				feed.Close()
				close(uploaded)
			}()
			response, err := transport.RoundTrip(request)
			if err != nil || response.StatusCode != http.StatusOK {
				log.Printf("CONNECT %s: %v", target, err)
				return
			}
			copyAll(local, response.Body)
			local.(*net.TCPConn).CloseWrite()
			<-uploaded
		}(local)
	}
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 5 && args[0] == "gateway":
		gateway(args[1], tlsConfig(args[2], args[3], args[4]))
	case len(args) == 7 && args[0] == "client":
		client(args[1], args[2], args[3], tlsConfig(args[4], args[5], args[6]))
	default:
		log.Fatal("usage: gohbone gateway LISTEN CERT KEY CA | gohbone client LISTEN GATEWAY TARGET CERT KEY CA")
	}
}
