// A custom runtime that talks to the Runtime API as aws-lambda-go does, written here with the standard
// library only: every post has a body of unknown length, so Go's client sends it chunked, and declares
// the Lambda-Runtime-Function-Error-Type and -Error-Body trailers up front; it exits on any status but
// 200 from next and 202 from a post. With RUNTIME_STREAMING=1 it answers as a streaming runtime does
// (Lambda-Runtime-Function-Response-Mode: streaming, an HTTP integration response: a JSON prelude, eight
// NUL bytes, then the body in pieces).
//
// Events: "fail" posts a typed error; "panic" posts one and exits 100 ms later; "midfail" breaks off its response and sends the error in the
// trailers; "drop" closes its connection mid-body and sleeps; any other event is answered
// {"echo": event, "tenant": the Lambda-Runtime-Aws-Tenant-Id it was given}.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

var api = "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
var streaming = os.Getenv("RUNTIME_STREAMING") == "1"

func main() {
	for {
		resp, err := http.Get(api + "/invocation/next")
		if err != nil || resp.StatusCode != http.StatusOK {
			fmt.Fprintln(os.Stderr, "next failed:", err, resp)
			os.Exit(2)
		}
		event, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		tenant := resp.Header.Get("Lambda-Runtime-Aws-Tenant-Id")
		var reply []byte
		switch {
		case string(event) == `"fail"`:
			post(id, "error", []byte(`{"errorMessage":"the event asked to fail","errorType":"Go.RequestedFailure"}`),
				"Go.RequestedFailure", nil)
			continue
		case string(event) == `"midfail"`:
			post(id, "response", []byte(`{"partial":`), "", map[string]string{
				"Lambda-Runtime-Function-Error-Type": "Go.ReaderFailed",
				"Lambda-Runtime-Function-Error-Body": base64.StdEncoding.EncodeToString(
					[]byte(`{"errorMessage":"the reader broke off","errorType":"Go.ReaderFailed"}`)),
			})
			continue
		case string(event) == `"panic"`: // as aws-lambda-go after a handler's panic: the error, then exit
			post(id, "error", []byte(`{"errorMessage":"boom","errorType":"errorString"}`), "errorString", nil)
			time.Sleep(100 * time.Millisecond)
			os.Exit(1)
		case string(event) == `"drop"`:
			drop(id)
			time.Sleep(time.Hour)
		default:
			reply, _ = json.Marshal(map[string]interface{}{"echo": json.RawMessage(event), "tenant": tenant})
		}
		if streaming {
			prelude := `{"statusCode":201,"headers":{"Content-Type":"application/json","X-Streamed":"yes"},"cookies":["a=1","b=2"]}`
			reply = append(append([]byte(prelude), make([]byte, 8)...), reply...)
		}
		post(id, "response", reply, "", nil)
	}
}

// post sends body through a pipe, in pieces: its length is unknown to the client, as in aws-lambda-go.
func post(id, kind string, body []byte, errorType string, trailers map[string]string) {
	reader, writer := io.Pipe()
	req, _ := http.NewRequest("POST", api+"/invocation/"+id+"/"+kind, reader)
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	if streaming && kind == "response" {
		req.Header.Set("Lambda-Runtime-Function-Response-Mode", "streaming")
		req.Header.Set("Content-Type", "application/vnd.awslambda.http-integration-response")
	}
	go func() {
		for start := 0; start < len(body); start += 65536 {
			end := start + 65536
			if end > len(body) {
				end = len(body)
			}
			writer.Write(body[start:end])
		}
		for name, value := range trailers {
			req.Trailer.Set(name, value)
		}
		writer.Close()
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "post failed:", err)
		os.Exit(2)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintln(os.Stderr, "post answered", resp.StatusCode, "- exiting, as aws-lambda-go does")
		os.Exit(1)
	}
}

// drop starts a post and closes its connection partway through the body.
func drop(id string) {
	conn, err := net.Dial("tcp", os.Getenv("AWS_LAMBDA_RUNTIME_API"))
	if err != nil {
		os.Exit(2)
	}
	fmt.Fprintf(conn, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"cut", id)
	conn.Close()
}
