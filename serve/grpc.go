package serve

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	commonv1pb "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1pb "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"github.com/dapr/go-sdk/service/common"
	daprgrpc "github.com/dapr/go-sdk/service/grpc"
	"github.com/gorilla/mux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/wasi-dapr-host/wasi-dapr-host/manifest"
	"github.com/wasi-dapr-host/wasi-dapr-host/wagi"
)

// The gRPC app channel uses the Dapr Go SDK's AppCallback service for topics, bindings, subscription
// listing and health. Only invocation is ours: the SDK routes methods by exact name, and modules claim
// route patterns (/orders/{id}, /static/...), so appCallback overrides OnInvoke and matches the method
// against the same router the HTTP channel uses.
type appCallback struct {
	*daprgrpc.Server
	s *Server
}

// OnInvoke runs a service invocation delivered over gRPC.
func (a *appCallback) OnInvoke(ctx context.Context, in *commonv1pb.InvokeRequest) (*commonv1pb.InvokeResponse, error) {
	if in == nil || in.GetMethod() == "" {
		return nil, status.Error(codes.InvalidArgument, "invocation without a method")
	}
	verb := http.MethodPost
	query := ""
	if ext := in.GetHttpExtension(); ext != nil {
		if v := ext.GetVerb().String(); v != "NONE" && v != "" {
			verb = v
		}
		query = ext.GetQuerystring()
	}
	path := "/" + strings.TrimPrefix(in.GetMethod(), "/")
	req, err := http.NewRequestWithContext(ctx, verb, path, nil)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "method %q: %v", in.GetMethod(), err)
	}
	req.URL.RawQuery = query
	var match mux.RouteMatch
	if !a.s.router.Match(req, &match) || match.Handler == nil || match.MatchErr != nil {
		return nil, status.Errorf(codes.NotFound, "no module serves method %q", in.GetMethod())
	}
	h, ok := match.Handler.(*invokeRoute)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no module serves method %q", in.GetMethod())
	}
	m := h.m
	var body []byte
	if in.GetData() != nil {
		body = in.GetData().GetValue()
	}
	if int64(len(body)) > m.spec.Limits.MaxBody {
		return nil, status.Errorf(codes.ResourceExhausted, "request body larger than %d bytes", m.spec.Limits.MaxBody)
	}
	start := time.Now()
	q := wagi.Request{Method: verb, Path: path, RawPath: path, RawQuery: query, Header: http.Header{}, Body: body,
		Route: h.pattern, ServerName: "localhost", ServerPort: "grpc", FullURL: path, ContentType: in.GetContentType()}
	if q.ContentType != "" {
		q.Header.Set("Content-Type", q.ContentType)
	}
	o := m.run(ctx, q)
	code := http.StatusOK
	defer func() { a.s.logRequest(m, "invoke", h.pattern, code, o, start, "channel", "grpc") }()
	switch {
	case o.busy:
		code = http.StatusServiceUnavailable
		return nil, status.Error(codes.Unavailable, o.err.Error())
	case o.timedOut:
		code = http.StatusGatewayTimeout
		return nil, status.Error(codes.DeadlineExceeded, "the guest timed out")
	case o.err != nil:
		code = http.StatusInternalServerError
		return nil, status.Error(codes.Internal, "the guest produced no valid response")
	}
	code = o.resp.Status
	if code/100 != 2 {
		return nil, status.Errorf(grpcCode(code), "the guest answered %d: %s", code, truncate(o.resp.Body, 200))
	}
	return &commonv1pb.InvokeResponse{ContentType: o.resp.Header.Get("Content-Type"), Data: &anypb.Any{Value: o.resp.Body}}, nil
}

// ListTopicSubscriptions is the SDK's list plus the dead-letter topics it does not carry.
func (a *appCallback) ListTopicSubscriptions(ctx context.Context, in *emptypb.Empty) (*runtimev1pb.ListTopicSubscriptionsResponse, error) {
	out, err := a.Server.ListTopicSubscriptions(ctx, in)
	if err != nil {
		return nil, err
	}
	for _, ts := range out.GetSubscriptions() {
		for _, m := range a.s.modules {
			for _, sub := range m.spec.Subscriptions {
				if sub.PubSub == ts.GetPubsubName() && sub.Topic == ts.GetTopic() {
					ts.DeadLetterTopic = sub.DeadLetterTopic
				}
			}
		}
	}
	return out, nil
}

func grpcCode(httpStatus int) codes.Code {
	switch httpStatus {
	case 400:
		return codes.InvalidArgument
	case 401:
		return codes.Unauthenticated
	case 403:
		return codes.PermissionDenied
	case 404:
		return codes.NotFound
	case 409:
		return codes.AlreadyExists
	case 429, 503:
		return codes.Unavailable
	case 504:
		return codes.DeadlineExceeded
	default:
		return codes.Unknown
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// newGRPC builds the gRPC app channel. The SDK service is made on a scratch grpc.Server (it registers
// itself there) and its handlers are registered through the SDK; the real server gets appCallback.
func (s *Server) newGRPC() (*grpc.Server, error) {
	scratch := grpc.NewServer()
	sdk, ok := daprgrpc.NewServiceWithGrpcServer(nil, scratch).(*daprgrpc.Server)
	if !ok {
		return nil, errors.New("the Dapr Go SDK's gRPC service has an unexpected type")
	}
	for _, m := range s.modules {
		for _, sub := range m.spec.Subscriptions {
			if err := sdk.AddTopicEventHandler(&common.Subscription{PubsubName: sub.PubSub, Topic: sub.Topic, Route: sub.Route,
				Metadata: sub.Metadata}, s.grpcTopicHandler(m, sub)); err != nil {
				return nil, fmt.Errorf("subscription %s/%s: %w", sub.PubSub, sub.Topic, err)
			}
		}
		for _, b := range m.spec.Bindings {
			if err := sdk.AddBindingInvocationHandler(b, s.grpcBindingHandler(m, b)); err != nil {
				return nil, fmt.Errorf("binding %s: %w", b, err)
			}
		}
	}
	if err := sdk.AddHealthCheckHandler("", func(context.Context) error {
		if !s.ready.Load() {
			return errors.New("modules are still compiling")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	real := grpc.NewServer()
	cb := &appCallback{Server: sdk, s: s}
	runtimev1pb.RegisterAppCallbackServer(real, cb)
	runtimev1pb.RegisterAppCallbackAlphaServer(real, cb)
	runtimev1pb.RegisterAppCallbackHealthCheckServer(real, cb)
	return real, nil
}

// cloudEvent rebuilds the CloudEvent JSON a WAGI subscriber reads on stdin, as the HTTP channel gets it.
func cloudEvent(e *common.TopicEvent) []byte {
	ev := map[string]any{
		"id": e.ID, "source": e.Source, "type": e.Type, "specversion": e.SpecVersion,
		"datacontenttype": e.DataContentType, "topic": e.Topic, "pubsubname": e.PubsubName,
	}
	if e.Subject != "" {
		ev["subject"] = e.Subject
	}
	switch {
	case len(e.RawData) == 0:
	case json.Valid(e.RawData) && (strings.Contains(e.DataContentType, "json") || e.DataContentType == ""):
		ev["data"] = json.RawMessage(e.RawData)
	case strings.HasPrefix(e.DataContentType, "text/"):
		ev["data"] = string(e.RawData)
	default:
		ev["data_base64"] = base64.StdEncoding.EncodeToString(e.RawData)
	}
	b, _ := json.Marshal(ev)
	return b
}

func (s *Server) grpcTopicHandler(m *module, sub manifest.Subscription) common.TopicEventHandler {
	return func(ctx context.Context, e *common.TopicEvent) (bool, error) {
		start := time.Now()
		q := wagi.Request{Method: http.MethodPost, Path: sub.Route, RawPath: sub.Route, Header: http.Header{},
			Body: cloudEvent(e), Route: sub.Route, ServerName: "localhost", ServerPort: "grpc", FullURL: sub.Route,
			ContentType: "application/cloudevents+json",
			Extra:       map[string]string{"X_DAPR_PUBSUB": sub.PubSub, "X_DAPR_TOPIC": sub.Topic}}
		o := m.run(ctx, q)
		verdict, code := eventVerdict(o)
		s.logRequest(m, "event", sub.PubSub+"/"+sub.Topic, code, o, start, "verdict", verdict, "channel", "grpc")
		switch verdict {
		case eventSuccess:
			return false, nil
		case eventDrop:
			return false, errors.New("the guest dropped the event")
		default:
			return true, errors.New("the guest asked for a retry")
		}
	}
}

func (s *Server) grpcBindingHandler(m *module, name string) common.BindingInvocationHandler {
	return func(ctx context.Context, in *common.BindingEvent) ([]byte, error) {
		start := time.Now()
		q := wagi.Request{Method: http.MethodPost, Path: "/" + name, RawPath: "/" + name, Header: http.Header{}, Body: in.Data,
			Route: "/" + name, ServerName: "localhost", ServerPort: "grpc", FullURL: "/" + name,
			Extra: map[string]string{"X_DAPR_BINDING": name}}
		for k, v := range in.Metadata {
			q.Header.Set(k, v)
		}
		o := m.run(ctx, q)
		code := http.StatusInternalServerError
		if o.err == nil {
			code = o.resp.Status
		}
		s.logRequest(m, "binding", name, code, o, start, "channel", "grpc")
		if code/100 != 2 {
			return nil, fmt.Errorf("the guest did not handle the binding event (status %d)", code)
		}
		return o.resp.Body, nil
	}
}

// ServeGRPC is Serve for the gRPC app channel.
func (s *Server) ServeGRPC(ctx context.Context, addr string, grace time.Duration) error {
	srv, err := s.newGRPC()
	if err != nil {
		return err
	}
	return s.serveChannel(ctx, addr, grace, channel{
		name: "gRPC", serve: srv.Serve, stop: srv.Stop,
		drain: func(ctx context.Context) error {
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
}
