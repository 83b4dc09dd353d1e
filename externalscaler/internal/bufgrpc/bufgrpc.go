// Package bufgrpc connects a gRPC client to a gRPC server in memory
// (grpc-go's bufconn): real gRPC framing and codecs without a socket. The
// external scaler's tests and kedasim's share it.
package bufgrpc

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// bufSize is the in-memory connection's buffer, in bytes.
const bufSize = 1 << 20

// Serve starts a gRPC server with the services register adds and returns a
// plaintext client connection to it; the connection closes and the server
// stops when t ends.
func Serve(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(bufSize)
	g := grpc.NewServer()
	register(g)
	go func() { _ = g.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		g.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		g.Stop()
	})
	return conn
}
