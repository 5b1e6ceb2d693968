-- wrk: POST a JSON document to /json (the JSON-echo scenario)
wrk.method = "POST"
wrk.path = "/json"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"user":{"id":1234,"name":"tsgw","tags":["a","b","c"]},"items":[1,2,3,4,5,6,7,8,9,10],"ok":true}'
