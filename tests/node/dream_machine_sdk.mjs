// Luma's Node SDK (lumaai from the npm registry), unchanged, through every method against
// a served luma-mock. Run by tests/test_dream_machine_node.py:
//   node dream_machine_sdk.mjs <fake URL> <token>
// It moves the fake's manual clock through the control API and prints one JSON object:
// what each call answered (or which error class it raised, with its status and body).
import LumaAI from "lumaai";

const [fake, token] = process.argv.slice(2);
const client = new LumaAI({ authToken: token, baseURL: `${fake}/dream-machine/v1`, maxRetries: 0 });
const stranger = new LumaAI({ authToken: "not-a-known-token", baseURL: fake, maxRetries: 0 });
const seen = {};

async function advance(seconds) {
  const answer = await fetch(`${fake}/__admin/clock/advance`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ seconds }),
  });
  if (answer.status !== 200) throw new Error(`clock/advance answered ${answer.status}`);
}

async function refused(name, call) {
  try {
    await call();
    seen[name] = { error: null };
  } catch (error) {
    seen[name] = { error: error.constructor.name, status: error.status, body: error.error };
  }
}

const created = await client.generations.create({ model: "ray-2", prompt: "a tiger in snow", resolution: "540p" });
const video = await client.generations.video.create({ model: "ray-flash-2", prompt: "waves at dusk" });
const image = await client.generations.image.create({ model: "photon-1", prompt: "a teddy bear", format: "png" });
seen.create = { state: created.state, type: created.generation_type };
await advance(30);
const done = await client.generations.get(created.id);
seen.get = { state: done.state, video: done.assets.video };
const page = await client.generations.list({ limit: 3 });
seen.list = { ids: page.generations.map((g) => g.id), expected: [image.id, video.id, created.id], count: page.count };

const upscaled = await client.generations.upscale(created.id, { resolution: "1080p" });
const audio = await client.generations.audio(created.id, { prompt: "rain on a tin roof" });
const reframedImage = await client.generations.image.reframe({
  generation_type: "reframe_image", model: "photon-1", aspect_ratio: "1:1",
  media: { url: "https://example.com/cat.jpg" },
});
const reframedVideo = await client.generations.video.reframe({
  generation_type: "reframe_video", model: "ray-2", aspect_ratio: "9:16",
  media: { url: done.assets.video },
});
const modified = await client.generations.video.modify({
  generation_type: "modify_video", model: "ray-2", mode: "flex_1",
  media: { url: done.assets.video },
});
await advance(30);
for (const [name, made] of Object.entries({ upscaled, audio, reframedImage, reframedVideo, modified })) {
  const now = await client.generations.get(made.id);
  seen[name] = { type: now.generation_type, state: now.state, assets: now.assets };
}

seen.deleted = await client.generations.delete(video.id);
seen.concepts = await client.generations.concepts.list();
seen.ping = await client.ping.check();
seen.credits = await client.credits.get();

await refused("badRequest", () => client.generations.create({ model: "ray-2", prompt: "ab" }));
await refused("unauthorized", () => stranger.ping.check());
await refused("notFound", () => client.generations.get(video.id));
await refused("conflict", () => client.generations.upscale(image.id, {}));
// Node inserts ids into paths raw (Python percent-encodes them): a slash makes another path.
await refused("rawIdPath", () => client.generations.audio("a/b", {}));

console.log(JSON.stringify(seen));
