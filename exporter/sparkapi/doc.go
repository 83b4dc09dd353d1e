// Package sparkapi is a small client for the monitoring REST API that every live Spark driver
// serves under /api/v1 (see docs/spark-rest.md), with typed models for the payloads the exporter
// reads: applications, stages, jobs, executors and the environment.
//
// The models hold only the fields the exporter uses. Every field that some Spark 3.x or 4.x
// release leaves out is a pointer or has a zero value that means "absent", so payloads of both
// lines decode; unknown fields are ignored, as Spark's API versioning policy only adds fields.
//
// Every request has a deadline (the caller's context), a size cap on the body, and fails with an
// *Error whose Reason says why in one word, suitable as a label value.
package sparkapi
