// Publishes one message to a room of the sample over gRPC, with grpc-js:
//   node sample/grpc-publish.mjs http://localhost:3000 127.0.0.1:50051 lobby "hello from gRPC"
// It gets a token from the sample's /token (as the page does), and sends it as metadata.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import {
  ERROR_CODE_METADATA_KEY,
  PROTO_LOADER_OPTIONS,
  REALTIME_PROTO_PATH,
} from 'nest-realtime/grpc';

const [
  httpUrl = 'http://localhost:3000',
  grpcUrl = '127.0.0.1:50051',
  room = 'lobby',
  text = 'hello',
] = process.argv.slice(2);
const { token } = await (await fetch(`${httpUrl}/token?name=grpc`)).json();
const definition = protoLoader.loadSync(REALTIME_PROTO_PATH, PROTO_LOADER_OPTIONS);
const { realtime } = grpc.loadPackageDefinition(definition);
const client = new realtime.v1.Realtime(grpcUrl, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
metadata.set('authorization', `Bearer ${token}`);
const message = { from: 'grpc', text, at: Date.now() };
client.Publish({ room, event: 'chat', data: JSON.stringify(message) }, metadata, (error, reply) => {
  // Why a call failed: its status, its error code (docs/protocol.md) in the trailers, a message.
  const [code = ''] = error?.metadata.get(ERROR_CODE_METADATA_KEY) ?? [];
  if (error) console.error(`gRPC error ${error.code} ${code}: ${error.details}`);
  else console.log(`published to "${reply.room}" at offset ${reply.offset}`);
  client.close();
  process.exitCode = error ? 1 : 0;
});
