// A custom runtime in Go, standard library only: the Lambda Runtime API loop that Go's and Rust's
// Lambda libraries implement, written out. It answers with the event and the invocation headers it
// was given. Special events: "fail" posts a typed error, "crash" exits mid-call, "sleep" never answers,
// "print" writes to stdout (log output for a custom runtime).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	if os.Getenv("RUNTIME_GO_INIT_FAIL") != "" {
		body := `{"errorMessage":"configuration missing","errorType":"Go.InitFailed"}`
		post(api+"/init/error", []byte(body), "Go.InitFailed")
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "runtime_go started, handler %s\n", os.Getenv("_HANDLER"))
	for {
		resp, err := http.Get(api + "/invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(2)
		}
		event, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		var decoded interface{}
		json.Unmarshal(event, &decoded)
		switch decoded {
		case "fail":
			post(api+"/invocation/"+id+"/error", []byte(`{"errorMessage":"the event asked to fail","errorType":"Go.RequestedFailure"}`), "Go.RequestedFailure")
			continue
		case "crash":
			fmt.Fprintln(os.Stderr, "crashing mid-call")
			os.Exit(3)
		case "sleep":
			time.Sleep(time.Hour)
		case "print":
			fmt.Println("this line went to stdout")
		}
		reply, _ := json.Marshal(map[string]interface{}{
			"event":           json.RawMessage(event),
			"pid":             os.Getpid(),
			"requestId":       id,
			"deadlineMs":      resp.Header.Get("Lambda-Runtime-Deadline-Ms"),
			"functionArn":     resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
			"traceId":         resp.Header.Get("Lambda-Runtime-Trace-Id"),
			"clientContext":   resp.Header.Get("Lambda-Runtime-Client-Context"),
			"cognitoIdentity": resp.Header.Get("Lambda-Runtime-Cognito-Identity"),
			"taskRoot":        os.Getenv("LAMBDA_TASK_ROOT"),
			"handler":         os.Getenv("_HANDLER"),
		})
		post(api+"/invocation/"+id+"/response", reply, "")
	}
}

func post(url string, body []byte, errorType string) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(2)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintln(os.Stderr, "post answered", resp.StatusCode)
	}
}
