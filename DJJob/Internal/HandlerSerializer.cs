using Newtonsoft.Json;
using Newtonsoft.Json.Serialization;

namespace DJJobNet.Internal;

/// <summary>Turns jobs into type-tagged JSON and back, instantiating nothing but <see cref="IJob"/> types.</summary>
internal static class HandlerSerializer
{
    private static readonly JsonSerializerSettings Settings = new()
    {
        // Auto tags the root (declared as IJob) and nothing else unless a member is polymorphic; the binder refuses
        // every tag that does not name a job type, so a row cannot make us build an arbitrary object.
        TypeNameHandling = TypeNameHandling.Auto,
        SerializationBinder = new JobTypeBinder(),
        MetadataPropertyHandling = MetadataPropertyHandling.ReadAhead,
        // A job's state comes back as it went in: typed dates keep their Kind and offset, strings stay strings.
        DateTimeZoneHandling = DateTimeZoneHandling.RoundtripKind,
        DateParseHandling = DateParseHandling.None,
        MaxDepth = 64,
    };

    public static string Serialize(IJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        try
        {
            return JsonConvert.SerializeObject(job, typeof(IJob), Settings);
        }
        catch (JsonException e)
        {
            throw new DJException($"Cannot store job of type {job.GetType().FullName}: {e.Message}", e);
        }
    }

    /// <summary>Rebuilds a job; throws <see cref="JsonException"/> with the reason when the JSON is not a known job.</summary>
    public static IJob Deserialize(string json)
    {
        try
        {
            return JsonConvert.DeserializeObject<IJob>(json, Settings) ?? throw new JsonSerializationException("the handler is null");
        }
        catch (JsonException e) when (e.InnerException is JsonException reason)
        {
            // Json.NET wraps the binder's refusal in "Error resolving type..."; lead with the reason.
            throw new JsonSerializationException($"{reason.Message} ({e.Message})", e);
        }
    }

    private sealed class JobTypeBinder : ISerializationBinder
    {
        public Type BindToType(string? assemblyName, string typeName)
        {
            var name = assemblyName is null ? typeName : $"{typeName}, {assemblyName}";
            Type? type;
            try
            {
                type = Type.GetType(name, throwOnError: false);
            }
            catch (Exception e) when (e is ArgumentException or IOException or BadImageFormatException or TypeLoadException)
            {
                throw new JsonSerializationException($"type '{name}' cannot be loaded: {e.Message}", e);
            }
            if (type is null) throw new JsonSerializationException($"type '{name}' does not exist");
            CheckJobType(type);
            // A row must not choose what a generic job builds: Job<FileInfo> would build a FileInfo from JSON.
            if (type.IsGenericType && !type.GetGenericArguments().All(IsPlain))
                throw new JsonSerializationException($"type '{type.FullName}' is a generic job with a type argument other than a primitive, string or job type");
            return type;
        }

        public void BindToName(Type serializedType, out string? assemblyName, out string? typeName)
        {
            CheckJobType(serializedType);
            assemblyName = serializedType.Assembly.GetName().Name;
            typeName = serializedType.FullName;
        }

        private static bool IsPlain(Type type) =>
            type.IsPrimitive || type.IsEnum || typeof(IJob).IsAssignableFrom(type)
            || type == typeof(string) || type == typeof(decimal) || type == typeof(DateTime) || type == typeof(DateTimeOffset)
            || type == typeof(TimeSpan) || type == typeof(Guid);

        private static void CheckJobType(Type type)
        {
            if (!typeof(IJob).IsAssignableFrom(type) || type.IsAbstract || type.IsInterface)
                throw new JsonSerializationException(
                    $"type '{type.FullName}' is not a job: only concrete types that implement IJob may be named in a handler");
        }
    }
}
